"""The partnership group report: static, offline HTML with inline SVG charts."""
