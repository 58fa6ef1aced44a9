"""Built-in method plugins, registered through the same hook as third-party ones."""

from benchbox.hookspecs import hookimpl


@hookimpl
def benchbox_register_methods(register):
    from .ae.method import AE

    for cls in (AE,):
        register(cls)
