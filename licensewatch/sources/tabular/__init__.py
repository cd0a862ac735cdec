"""Files as spreadsheets save them: encodings, delimiters, workbooks, dates, checked tables."""
