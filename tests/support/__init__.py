"""What the tests share: where the project's files are (``paths``), the expected values written
from the project's docs (``expected``) and contract (``contract_data``), a scriptable stand-in
for the site (``fake_site``) and HTTP clients for raw requests (``raw_client``). tests/README.md
says which server helper to use for what."""
