"""Pure rules of identity's input: what an email address and a password may be.

Email syntax is checked here rather than with `email-validator` (not a
dependency of this project): the address is only an account key, and proving
it can receive mail is the job of a later verification step, not of a regex.
"""

from __future__ import annotations

import re

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit less the angle brackets
MAX_LOCAL_LENGTH = 64
MAX_LABEL_LENGTH = 63
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256  # bounds the argon2 input; the hash cost does not grow with it

# RFC 5322 dot-atom text, without quoted local parts or comments: they are legal
# but only ever seen in attacks and break every downstream mail system anyway.
_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATEXT}(\.{_ATEXT})*$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_TLD = re.compile(r"^([a-z]{2,}|xn--[a-z0-9-]+)$")


def normalise_email(raw: str) -> str:
    """The stored form: stripped and lower-cased, so one mailbox is one account."""
    return raw.strip().lower()


def email_problem(email: str) -> str | None:
    """Why a normalised address is unacceptable, or None if it is fine."""
    if not email:
        return "email is empty"
    if len(email) > MAX_EMAIL_LENGTH:
        return "email is too long"
    if not email.isascii():
        return "email must be ASCII (internationalised domains in punycode)"
    local, at, domain = email.rpartition("@")
    if not at or not local:
        return "email needs a local part and a domain"
    if len(local) > MAX_LOCAL_LENGTH or not _LOCAL.match(local):
        return "email local part is not valid"
    labels = domain.split(".")
    if len(labels) < 2:
        return "email domain needs a dot"
    if any(len(label) > MAX_LABEL_LENGTH or not _LABEL.match(label) for label in labels):
        return "email domain is not valid"
    if not _TLD.match(labels[-1]):
        return "email top-level domain is not valid"
    return None


def checked_email(raw: str) -> str:
    """Normalise and validate; raises ValueError so pydantic turns it into a 422."""
    email = normalise_email(raw)
    problem = email_problem(email)
    if problem:
        raise ValueError(problem)
    return email
