"""Backdoor poisoning attacks of the paper: standard, label-consistent, reduced amplitude."""
