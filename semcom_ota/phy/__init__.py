"""semcom_ota.phy"""
