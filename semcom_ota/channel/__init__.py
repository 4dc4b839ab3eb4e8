"""semcom_ota.channel"""
