"""The athlete's own controls over their timeline: priority orders and manual links."""
