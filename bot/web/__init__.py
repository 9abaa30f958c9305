"""The public web page: the program's landing page (from the program data) and the chat widget's files."""
