"""The collector's REST API and live page (FastAPI, served in-process by uvicorn)."""
