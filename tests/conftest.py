import os

# Tests never reach the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The validated-catalog cache (deploykit.catalog.cache) goes to a folder of this test run, not the user's cache.
if "DEPLOYKIT_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["DEPLOYKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="deploykit-test-cache-")
