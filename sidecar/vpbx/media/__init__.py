"""Media: rtpengine control and the media application."""
