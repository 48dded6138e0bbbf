"""One router per area of the ops API."""
