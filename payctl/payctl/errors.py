"""What goes wrong when running the stack, said so that the operator knows what to do."""


class StackError(RuntimeError):
    """The stack cannot start or run; the message names the part and shows its log."""


class OpsError(RuntimeError):
    """An ops verb cannot do what it was asked (bad input, a part unreachable, a service still
    running); it has changed nothing. The message says what to do."""
