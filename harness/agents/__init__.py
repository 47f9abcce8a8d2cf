"""What runs on a remote host for the controller: hostctl, leased, diagwatch."""
