"""Money: invoices, payments, account credit, refunds, adjustments, all posted through one ledger.

- ledger.py    lock a customer's money, post an entry (the only writer of customer.balance and its copy
               customer_balance.balance, the sort by balance's), the check
- tax.py       tax rates, the rate a line is charged at (exempt, the customer's special rate, the line's)
- invoices.py  drafts, issuing (a gap-free number), Charge customer, voiding
- payments.py  payments, external payments, manual credits, allocation, refunds, voided credit,
               balance adjustments
- allocation.py the cash-allocation screen's service: open invoices and credits, oldest first, save
               (a new payment or existing credit over many invoices, small write-offs), un-allocate,
               account credit used when an invoice is issued
- finances.py  what the customer's page reads: its figures, the Finances tab's lists
- as_at.py     money as it stood at the end of a day (the aged receivables' and the statements' rule)
- statements.py customer statements: outstanding as at a date, activity for a period, their ageing

Every command here is one transaction: it checks the permission (POST_MONEY), loads the customer
through the user's scope, claims the form's key (the same key twice records once), locks the
customer's money (ledger.lock), checks again what it read, writes, posts and commits.
"""
# Posting money (every command that writes a money record); Finance and Admin hold it.
POST_MONEY = ("can_post_money", "InvoiceView")
# A small write-off (allocation.py): Finance's and Admin's, by the default roles' can_[a-z_]+ on InvoiceView.
WRITE_OFF = ("can_write_off_money", "InvoiceView")
ALREADY_RECORDED = "This was already recorded; it was not recorded twice."
