# Sphinx configuration of the nova-usb documentation.

extensions = [
    'oslo_config.sphinxext',
]

project = 'nova-usb'
copyright = '2026, The nova-usb Authors'
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
