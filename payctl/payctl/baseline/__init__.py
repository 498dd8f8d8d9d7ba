"""The synchronous baseline `payctl bench` compares the event-driven design against: one HTTP
endpoint that authorizes, creates and confirms the order and captures every seller line inline,
then answers. Bench tooling, not product."""
