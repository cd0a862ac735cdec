"""The answers mailbox: where focal points' replies arrive (IMAP or Microsoft Graph).

A reader lists the messages waiting in the configured folder, hands each one
over whole (``Incoming``) and moves it to the processed or rejected folder once
the job has recorded what it said. ``incoming`` parses and bounds a message,
``authresults`` reads the organization's ``Authentication-Results``.
"""
