"""semcom_ota.train"""
