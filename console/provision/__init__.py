"""Making VMs and changing their size: the scheduler (placement), templates, the audited create
saga with its compensations, and resize."""
