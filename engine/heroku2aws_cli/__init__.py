"""The ``heroku2aws`` command line: the commands a user runs against real AWS (``plan``, ``watch``, ``diagram``,
``schema``, ``asl``) and the dispatcher (``main``). The local emulator is the separate package
``heroku2aws_rehearsal``; of it, this package imports only ``rehearse`` (for the ``rehearse`` command) and
the template translator (``plan``'s resource list), and only when that command runs."""
