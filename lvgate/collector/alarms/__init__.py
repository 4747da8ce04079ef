"""The alarm book: rules over readings, availability and events; fault levels and contract clocks."""
