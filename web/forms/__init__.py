"""Create/edit forms generated from the compiled model (WTForms, CSRF by Flask-WTF).

- :mod:`.widgets`: one widget class per ``FieldType.widget`` name, in one registry;
- :mod:`.builder`: the form class and layout of an entity for an actor's field access;
- :mod:`.binding`: record values into a form, posted data out to the record service.

Forms only convert: every value is judged by the record service, the only write path.
"""

from web.forms.binding import collect, conditions, defaults, initial_data, keep_posted
from web.forms.builder import FieldSpec, FormCache, FormSpec, Section, build_form_spec
from web.forms.widgets import Widget, WidgetContext, registry

__all__ = ["FieldSpec", "FormCache", "FormSpec", "Section", "Widget", "WidgetContext",
           "build_form_spec", "collect", "conditions", "defaults", "initial_data", "keep_posted",
           "registry"]
