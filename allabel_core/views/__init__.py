"""What the dashboard and a notebook show: figures, tables and sentence markup."""
