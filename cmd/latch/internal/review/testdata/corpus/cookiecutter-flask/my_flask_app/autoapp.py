# -*- coding: utf-8 -*-
"""Create an application instance."""
from my_flask_app.app import create_app

app = create_app()
