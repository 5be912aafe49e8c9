"""Follow-up de-anonymisation requests: services, pages, API, identity sheet and alias table."""
