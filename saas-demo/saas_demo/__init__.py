"""saas-demo: the SaaS app the checkout ends in. Its sign-in callback takes the SSO token that
order-consumer signed, verifies it against order-consumer's published key, accepts each token
once, and signs the shopper in.
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
