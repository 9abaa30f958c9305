"""Code that runs inside the Rasa server (Python 3.10): the health channel and its store checks."""
