"""One screen per step of the journey; ``base.KitScreen`` holds what they share."""
