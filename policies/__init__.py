"""CrossGuard policy pack for bluegreen; the rules live in policies/rules.py."""
