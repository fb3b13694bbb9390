"""Keep the Workforce Automation App in sync with the Symphonics energy-efficiency platform."""
