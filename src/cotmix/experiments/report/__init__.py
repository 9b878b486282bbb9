"""`cotmix report`: figures with confidence bands and theory overlays, and one HTML page."""
