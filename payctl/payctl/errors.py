"""What goes wrong when running the stack, said so that the operator knows what to do."""


class StackError(RuntimeError):
    """The stack cannot start or run; the message names the part and shows its log."""
