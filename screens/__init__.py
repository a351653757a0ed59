"""One module per screen. Screens bind widgets to the fleet snapshot and to the actions."""
