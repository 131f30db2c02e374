"""Text, numbers, money and time as an SMS needs them: GSM7, Kenyan MSISDNs, KES amounts, EAT, templates."""
