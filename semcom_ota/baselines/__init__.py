"""semcom_ota.baselines"""
