"""semcom_ota.eval"""
