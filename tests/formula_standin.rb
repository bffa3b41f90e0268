# A small stand-in for Homebrew's Formula DSL: loads a formula file and prints,
# as JSON, what it declares (desc, homepage, version, license, url/sha256 per
# platform block, whether it has install and a test block).
# Usage: ruby formula_standin.rb Formula/opencode.rb
require "json"

RECORD = { "platforms" => {} }
PLATFORM = []

class Formula
  class << self
    %w[desc homepage version license].each do |field|
      define_method(field) { |value| RECORD[field] = value }
    end

    def url(value)
      slot["url"] = value
    end

    def sha256(value)
      slot["sha256"] = value
    end

    def on_macos(&block) = within("macos", &block)
    def on_linux(&block) = within("linux", &block)
    def on_intel(&block) = within("intel", &block)
    def on_arm(&block) = within("arm", &block)

    def test(&block)
      RECORD["test_block"] = !block.nil?
    end

    private

    def within(name)
      PLATFORM.push(name)
      yield
    ensure
      PLATFORM.pop
    end

    def slot
      key = PLATFORM.empty? ? "all" : PLATFORM.join("_")
      RECORD["platforms"][key] ||= {}
    end
  end
end

load ARGV.fetch(0)
formula = ObjectSpace.each_object(Class).find { |c| c < Formula }
abort "no Formula subclass in #{ARGV[0]}" unless formula
methods = formula.instance_methods(false).map(&:to_s).sort
puts JSON.generate(RECORD.merge("class" => formula.name, "instance_methods" => methods))
