"""circles"""
