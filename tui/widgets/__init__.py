"""Widgets the screens share: progress with ETA, the loss plot, the error modal, the file picker."""
