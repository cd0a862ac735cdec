"""One Microsoft Graph client (MSAL sign-in, paging, failure sorting, its own errors) shared by
the accounts source, the mail transport and licence removal."""
