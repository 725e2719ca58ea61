"""Reference data the pipeline ships in seeds/: school register, GIAS links, groups, codes."""
