# Sphinx configuration of the nova-usb documentation.

extensions = [
    'oslo_config.sphinxext',
]

project = 'nova-usb'
copyright = '2026, The nova-usb Authors'
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'


# The design guide names every module of nova_usb/ (``name.py`` or
# ``path/name.py``): the build fails on one it does not name, so that the
# guide keeps up with the code. The alembic migrations are one job, named
# as such.
import os  # noqa: E402
import re  # noqa: E402

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_GUIDE = os.path.join(os.path.dirname(__file__), 'contributor', 'design.rst')


def _modules_missing_from_the_guide():
    with open(_GUIDE) as guide:
        text = guide.read()
    missing = []
    for directory, _dirs, files in os.walk(os.path.join(_ROOT, 'nova_usb')):
        if 'migrations' in directory.split(os.sep):
            continue
        for name in files:
            named = re.search(r'``([\w/]+/)?%s``' % re.escape(name), text)
            if name.endswith('.py') and name != '__init__.py' and not named:
                missing.append(os.path.relpath(
                    os.path.join(directory, name), _ROOT))
    return sorted(missing)


def _check_design_guide(app):
    missing = _modules_missing_from_the_guide()
    if missing:
        raise RuntimeError('doc/source/contributor/design.rst does not name '
                           'these modules: %s' % ', '.join(missing))


def setup(app):
    app.connect('builder-inited', _check_design_guide)
