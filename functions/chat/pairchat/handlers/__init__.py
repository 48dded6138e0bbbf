"""Lambda adapters: parse the event, call one domain function, map errors to frames."""
