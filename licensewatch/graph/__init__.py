"""One Microsoft Graph client (MSAL sign-in, paging, retries, failure sorting) shared by
the accounts source, the mail transport and licence removal."""
