# What a buildpack leaves in the slug's .profile.d: sourced (by bash) before every process starts, after the
# config vars are set, so a config var wins over a default set here (Dev Center ".profile.d Scripts").
export SAMPLE_APP_PROFILE_D=sourced
export WEB_CONCURRENCY=${WEB_CONCURRENCY:-1}
