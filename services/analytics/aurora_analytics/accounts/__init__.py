"""What analytics does with identity's decisions: blocked and erased users, grants, exports."""
