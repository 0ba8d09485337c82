"""Coach grants: an athlete lets a coach see (and optionally plan) their training."""
