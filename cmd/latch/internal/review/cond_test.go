package review

import "testing"

func TestCondMode(t *testing.T) {
	tests := []struct {
		cond string
		want int
	}{
		{"DEBUG", devOnly},
		{"not DEBUG", prodOnly},
		{"settings.DEBUG", devOnly},
		{"app.debug", devOnly},
		{"app.testing", devOnly},
		{"not app.config['DEBUG']", prodOnly},
		{"os.environ.get('FLASK_ENV') == 'development'", devOnly},
		{"os.environ.get('FLASK_ENV') == \"production\"", prodOnly},
		{"ENV != 'production'", devOnly},
		{"ENVIRONMENT in ('prod', 'production')", prodOnly},
		{"'test' in sys.argv", devOnly},
		{"IS_PRODUCTION", prodOnly},
		{"(DEBUG)", devOnly},
		{"USE_S3", unknown},
		{"os.environ.get('X')", unknown},
		{"config_name == 'staging'", unknown},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			if got := condMode(tt.cond); got != tt.want {
				t.Errorf("condMode(%q) = %d, want %d", tt.cond, got, tt.want)
			}
		})
	}
}
