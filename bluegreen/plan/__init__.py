"""The routing plan and its pure derivations (the program's plan, a rollback, the traffic rules)."""
