"""Conversations: the funnel the assistant records, and (issue 5) the web chat gateway."""
