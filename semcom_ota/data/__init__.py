"""semcom_ota.data"""
